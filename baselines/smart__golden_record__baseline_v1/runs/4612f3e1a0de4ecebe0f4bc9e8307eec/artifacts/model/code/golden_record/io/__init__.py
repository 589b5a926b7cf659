"""Reading and writing the warehouse: connections (passwords never shown), the schema's tables, bulk COPY."""
