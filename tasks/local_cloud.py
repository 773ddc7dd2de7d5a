"""inv sandbox.up, sandbox.status, sandbox.down, sandbox.reset: the local cloud."""
import json

from invoke import Exit, task

_JSON = "print the status as JSON"


def _home():
    from tasks.repository import PROJECT

    return PROJECT.sandbox_home


def _print_status(status, as_json):
    if as_json:
        print(json.dumps(status, indent=2))
        return
    storage, control = status["storage"], status["control"]
    print(f"storage (Azurite)  {'running' if storage['running'] else 'stopped'}")
    for account, endpoint in storage["accounts"].items():
        print(f"  {account:<12} {endpoint}")
    print(f"control plane      {'running' if control['running'] else 'stopped'}  {control['url'] or ''}")
    print(f"  ARM and Data Factory      {status['arm']['url'] or '(not started yet)'}")
    for vault, url in status["keyvaults"].items():
        print(f"  key vault {vault:<16} {url}")
    for workspace, url in status["databricks_workspaces"].items():
        print(f"  databricks {workspace:<15} {url}")
    if status["leftover_processes"]:
        print(f"{status['leftover_processes']} process(es) of a sandbox server that is gone are still running "
              "(Azurite, clusters): `inv sandbox.up` or `inv sandbox.down` stops them")
    print(f"state in {status['home']}; clients trust {status['trust_bundle']}")


@task(help={"json": _JSON, "quiet": "print nothing when it is up"})
def up(c, json_=False, quiet=False):
    """Start the sandbox (Azurite and the control planes) in the background; safe to run again."""
    import time

    from sandbox.lifecycle import SandboxError, up as start
    from tasks.repository import REPO_ROOT

    started = time.monotonic()
    try:
        current = start(_home(), REPO_ROOT)
    except (SandboxError, OSError) as exc:
        raise Exit(f"sandbox up failed: {exc}", code=1)
    if quiet:
        return
    _print_status(current, json_)
    if not json_:
        print(f"sandbox up in {time.monotonic() - started:.1f}s")


@task(help={"json": _JSON})
def status(c, json_=False):
    """Show each sandbox service, whether it runs, and its endpoint."""
    from sandbox.lifecycle import status as read_status

    _print_status(read_status(_home()), json_)


@task
def down(c):
    """Stop every sandbox process; the state stays for the next `sandbox.up`."""
    from sandbox.lifecycle import down as stop

    stopped = stop(_home())
    print(f"sandbox down: {len(stopped)} process(es) stopped" if stopped else "sandbox was not running")


@task(help={"yes": "do not ask for confirmation"})
def reset(c, yes=False):
    """Stop the sandbox and delete all its state (secrets, storage, certificates)."""
    from sandbox.lifecycle import reset as wipe

    if not yes:
        answer = input(f"delete all sandbox state in {_home()}? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise Exit("reset cancelled", code=1)
    wipe(_home())
    print("sandbox reset: no process running, no state left")
