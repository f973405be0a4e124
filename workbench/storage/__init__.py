"""Application-state storage: SQLAlchemy models, engine, migrations, repositories."""
from .database import Database

__all__ = ["Database"]
