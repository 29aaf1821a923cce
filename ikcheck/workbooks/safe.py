"""Neutralising formula injection in everything ikcheck writes for Excel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from openpyxl.cell.cell import Cell

DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def set_text(cell: Cell, value: Any) -> Cell:
    """Write a value; user text is always stored as text, never as a formula."""
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"
    return cell


def csv_text(value: Any) -> Any:
    """CSV has no cell types: text that Excel would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(DANGEROUS):
        return "'" + value
    return value
