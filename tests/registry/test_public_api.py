"""The public API of models and registry is pinned: changing it is a decision."""

from __future__ import annotations

import inspect

import cognirace.models as models
import cognirace.registry as registry


def test_the_models_api_is_pinned() -> None:
    assert set(models.__all__) == {
        "ColumnSpec", "Model", "ModelMetadata", "ModelState", "conform",
        "count_out_of_range", "data_fingerprint",
    }
    assert {"fit", "predict", "save", "load", "metadata", "get_params"} <= set(dir(models.Model))


def test_the_registry_api_is_pinned() -> None:
    assert set(registry.__all__) == {
        "BUILTIN_KINDS", "RESERVED_ALIASES", "CodeVersion", "FileEntry", "Manifest",
        "Registry", "allowed_kinds", "data_fingerprint", "resolve_kind",
    }
    publish = inspect.signature(registry.Registry.publish).parameters
    assert [p for p, v in publish.items() if v.kind is v.KEYWORD_ONLY] == [
        "metrics", "data_fingerprint", "card_markdown", "card_json"]
    assert {"load", "list_models", "list_versions", "manifest", "set_alias", "aliases",
            "remove_alias", "resolve", "card_markdown", "card_json"} <= set(dir(registry.Registry))


def test_every_builtin_kind_resolves_to_its_class() -> None:
    for kind in registry.BUILTIN_KINDS:
        assert registry.resolve_kind(kind).kind == kind
