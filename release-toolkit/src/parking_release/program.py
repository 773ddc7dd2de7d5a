"""`parking-release`: the installed release toolkit's command (invoke's Program over the release tasks).

    parking-release deploy-qa --version 1.4.0 --target azure
    parking-release --root ~/src/parking ops.status --env prod      (work from a clone's environment files)
"""
from __future__ import annotations

from invoke import Argument, Program

from parking_release.collection import release_collection

from toolkit import DISTRIBUTION, installed_version


class ReleaseProgram(Program):
    """invoke's Program, with ``--root``: the clone to read environment files and builds from (the invoke
    configuration key ``parking.root`` says the same)."""

    def core_args(self) -> list[Argument]:
        return [*super().core_args(),
                Argument(names=("root",), help="a clone of the repository to work from (its environment files and "
                                               "builds); without it, a release's files come from its bundle")]

    def update_config(self, merge: bool = True) -> None:
        if self.args.root.value:
            self.namespace.configure({"parking": {"root": self.args.root.value}})
        super().update_config(merge)


def main(argv: list[str] | None = None) -> None:
    ReleaseProgram(version=installed_version() or "source (not installed)", namespace=release_collection(),
                   name="parking-release", binary=DISTRIBUTION, binary_names=[DISTRIBUTION]).run(argv)
