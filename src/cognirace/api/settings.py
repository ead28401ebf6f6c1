"""Settings of the prediction service, read from ``COGNIRACE_*`` environment variables.

Every knob an operator turns in a container is here, with a safe default: the service
binds to localhost unless told otherwise, and ``check_bind`` refuses a public address
without API keys. Vertex AI's own variables (``AIP_HTTP_PORT``, ``AIP_HEALTH_ROUTE``,
``AIP_PREDICT_ROUTE``) carry no prefix and are read as given, so the same image runs
on Vertex endpoints, KServe and Cloud Run.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from cognirace.config import Settings
from cognirace.errors import ConfigError

MIB = 1024 * 1024
_LOCAL_NAMES = frozenset({"localhost", "ip6-localhost"})


class ServeSettings(BaseSettings):
    """How the prediction service runs; each field is the variable ``COGNIRACE_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="COGNIRACE_", env_file=None, extra="ignore",
                                      populate_by_name=True, protected_namespaces=())

    host: str = Field(default="127.0.0.1", description="Address to bind; a non-local "
                      "address needs API keys.")
    port: int = Field(default=8005, ge=1, le=65535, description="TCP port (AIP_HTTP_PORT "
                      "wins when set).", validation_alias=AliasChoices(
                          "AIP_HTTP_PORT", "COGNIRACE_PORT"))
    workers: int = Field(default=1, ge=1, le=64, description="Worker processes; each loads "
                         "the models once.")
    registry_url: str = Field(default=Settings.model_fields["registry_url"].default,
                              description="Model registry: a folder or an fsspec URL.")
    model_alias: str = Field(default="production", description="Registry alias served.")
    model_cache_dir: Path = Field(default=Path("data/model-cache"), description="Local copy "
                                  "of models from a remote registry (gs://, s3://).")
    keys_file: Path = Field(default=Path("data/api-keys.json"), description="Hashed API keys "
                            "written by `cognirace keys create`.")
    api_keys: str | None = Field(default=None, description="Hashed keys as "
                                 "'sha256:<hex>:predict+admin,...' (for secrets in the env).")
    redis_url: str | None = Field(default=None, description="Redis for shared rate limits, "
                                  "response cache and live races (every replica follows the "
                                  "same races); in-process when unset.")
    cache_ttl_s: float = Field(default=60.0, ge=0.0, description="Response cache TTL in "
                               "seconds; 0 turns the cache off.")
    cache_max_entries: int = Field(default=10_000, ge=1, description="In-process cache size.")
    batch_limit: int = Field(default=1000, ge=1, description="Most instances in one batch.")
    max_body_bytes: int = Field(default=8 * MIB, ge=1024, description="Largest request body.")
    predict_timeout_s: float = Field(default=2.0, gt=0.0, description="Prediction time limit; "
                                     "504 beyond it.")
    rate_limit_per_s: float = Field(default=100.0, gt=0.0, description="Token refill per key.")
    rate_limit_burst: int = Field(default=200, ge=1, description="Token bucket size per key.")
    cors_origins: list[str] = Field(default_factory=list, description="Allowed CORS origins "
                                    "(JSON list); none by default.")
    log_level: str = Field(default="info", pattern=r"^(debug|info|warning|error|critical)$",
                           description="Log level of the JSON-line logs.")
    vertex_model: str = Field(default="laptime", description="Model of the Vertex route when "
                              "the request's parameters name none.")
    aip_health_route: str | None = Field(default=None, validation_alias="AIP_HEALTH_ROUTE",
                                         description="Extra health route (Vertex AI).")
    aip_predict_route: str | None = Field(default=None, validation_alias="AIP_PREDICT_ROUTE",
                                          description="Extra predict route (Vertex AI).")

    def check_bind(self, n_keys: int) -> None:
        """Refuse to serve a non-local address with no API key configured.

        Raises:
            ConfigError: ``host`` is reachable from other machines and no key exists.
        """
        if n_keys == 0 and not is_local_host(self.host):
            raise ConfigError(
                f"refusing to serve on {self.host} without API keys", value=self.host,
                hint="run `cognirace keys create --name NAME` (or set COGNIRACE_API_KEYS), "
                "or bind to 127.0.0.1")


def is_local_host(host: str) -> bool:
    """Whether ``host`` is a loopback name or address (open access is safe only there)."""
    if host in _LOCAL_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def describe_settings() -> str:
    """One line per setting (variable, default, meaning), for ``cognirace serve --help``."""
    lines = []
    for name, field in ServeSettings.model_fields.items():
        alias = field.validation_alias
        env = alias if isinstance(alias, str) else f"COGNIRACE_{name.upper()}"
        default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
        shown = str(default) if isinstance(default, Path) else repr(default)
        lines.append(f"{env} (default {shown}): {field.description}")
    return "\n\n".join(lines)


__all__ = ["ServeSettings", "describe_settings", "is_local_host"]
