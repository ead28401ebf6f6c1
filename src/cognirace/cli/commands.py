"""Registry of sub-commands: one line per command module.

The command modules are light (Typer, Rich and the standard library at module level),
so registering all of them costs little; each command imports what it runs when it runs.
"""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add every sub-command to ``app``."""
    from cognirace.cli import (
        backtest_cmd,
        demo_cmd,
        evaluate_cmd,
        ingest_cmd,
        keys_cmd,
        plot_cmd,
        replay_cmd,
        serve_cmd,
        simulate_cmd,
        strategy_cmd,
        train_cmd,
    )

    app.command("demo")(demo_cmd.demo)
    app.command("ingest")(ingest_cmd.ingest)
    app.command("simulate")(simulate_cmd.simulate)
    app.command("plot")(plot_cmd.plot)
    app.command("train")(train_cmd.train)
    app.command("evaluate")(evaluate_cmd.evaluate)
    app.command("serve", cls=serve_cmd.ServeCommand)(serve_cmd.serve)
    app.command("replay")(replay_cmd.replay)
    app.command("strategy")(strategy_cmd.strategy)
    app.command("backtest")(backtest_cmd.backtest)
    app.add_typer(keys_cmd.app, name="keys")
