"""Settings read from ``COGNIRACE_*`` environment variables.

Only the ``cli`` and ``api`` layers read settings; every lower layer takes plain
arguments so it can be tested without an environment.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Where CogniRace keeps its data and how it behaves.

    The defaults are embedded local folders, so a fresh machine needs no service.
    """

    model_config = SettingsConfigDict(env_prefix="COGNIRACE_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Root of local data folders.")
    lake_dir: Path = Field(default=Path("data/lake"), description="The Parquet lake.")
    registry_url: str = Field(
        default="data/registry",
        description="Model registry: a local folder or an fsspec URL (gs://, s3://).",
    )
    debug: bool = Field(default=False, description="Strict mode: show tracebacks.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


__all__ = ["Settings", "get_settings"]
