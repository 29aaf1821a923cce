"""Report datasets and renderers (HTML via Jinja2, PDF via WeasyPrint, XLSX via openpyxl)."""
