from ikcheck.store.db import Database
from ikcheck.store.models import Base

__all__ = ["Base", "Database"]
