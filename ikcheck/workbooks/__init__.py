"""Excel and CSV in and out (openpyxl): templates, readers and writers. Imports no service."""
