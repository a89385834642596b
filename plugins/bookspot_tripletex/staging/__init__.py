"""The staging database: schema, migrations, and writes of feed records."""
