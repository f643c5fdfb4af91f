"""Command-line interface: a thin shell over the library (``placement --help``)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from placement._errors import DataError, PlacementError

app = typer.Typer(
    name="placement",
    help=(
        "Plan permanent housing for newly arrived refugee households: validate a dataset, "
        "measure accessibility, propose placements, compare scenarios, report retention."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

REPO_DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "geo" / "demo"

DatasetDir = Annotated[
    Path,
    typer.Argument(help="Folder with a dataset.toml manifest.", show_default=False),
]


def _fail(err: PlacementError) -> typer.Exit:
    """Print a library error for a person and return the exit to raise."""
    if isinstance(err, DataError):
        for problem in err.problems:
            typer.echo(str(problem), err=True)
        n = len(err.problems)
        typer.echo(f"{n} problem{'s' if n != 1 else ''}: nothing was written.", err=True)
    else:
        typer.echo(f"error: {err}", err=True)
    return typer.Exit(code=1)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@app.command("validate")
def validate_cmd(dataset_dir: DatasetDir) -> None:
    """Check every file of a dataset; print each problem as file:row:column: message."""
    from placement.dataset import validate_dataset
    from placement.pipeline import summary_lines

    report = validate_dataset(dataset_dir)
    for problem in report.problems:
        typer.echo(str(problem))
    for line in summary_lines(report.summary):
        typer.echo(line)
    if report.problems:
        n = len(report.problems)
        typer.echo(f"{n} problem{'s' if n != 1 else ''} found.", err=True)
        raise typer.Exit(code=1)
    typer.echo("The dataset is valid.")


@app.command("demo-data")
def demo_data_cmd(
    seed: Annotated[int, typer.Option(help="Seed of the generator.")] = 42,
    out: Annotated[Path, typer.Option(help="Folder to write the dataset into.")] = REPO_DEMO_DIR,
) -> None:
    """Generate the fictional demo municipality (same seed, same bytes)."""
    from placement.demo import generate_demo

    path = generate_demo(out, seed=seed)
    typer.echo(f"Demo dataset written to {path}")


@app.command("demo")
def demo_cmd(
    out: Annotated[Path, typer.Option(help="Folder for the outputs.")] = Path("demo-output"),
    dataset: Annotated[Path, typer.Option(help="Dataset folder.")] = REPO_DEMO_DIR,
) -> None:
    """Run the whole pipeline on the bundled demo dataset and write its outputs to OUT."""
    from placement.pipeline import run_demo

    try:
        summary = run_demo(dataset, out)
    except PlacementError as err:
        raise _fail(err) from None
    for line in summary:
        typer.echo(line)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI with ``argv`` and return the exit code (for tests and ``python -m``)."""
    import click

    try:
        rv = app(args=argv, standalone_mode=False)
    except click.ClickException as err:
        err.show()
        return err.exit_code
    except typer.Exit as exit_:
        return int(exit_.exit_code)
    except PlacementError as err:
        return int(_fail(err).exit_code)
    return rv if isinstance(rv, int) else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
