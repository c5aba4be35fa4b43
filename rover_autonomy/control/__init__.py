"""Base controller: body twist -> corner steering angles and wheel rates (core + node)."""
