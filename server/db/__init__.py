"""PostgreSQL access: the embedded server, the pool, migrations and named queries."""

from .embedded import EmbeddedPostgres, start_embedded
from .migrate import migrate
from .pool import create_pool
from .sql import q

__all__ = ["EmbeddedPostgres", "start_embedded", "migrate", "create_pool", "q"]
