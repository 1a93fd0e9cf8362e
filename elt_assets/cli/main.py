"""The `elt` command line (DESIGN §6): the click group, and how errors reach the user.

Exit codes: 0 done; 1 done but something failed (a blocking check, a run, an AWS call, a
refused request); 2 a usage error. Errors a user can act on print one sentence, `elt: ...`, to
stderr and never a traceback; anything else is a bug and keeps its traceback.
"""

import sys
from collections.abc import Sequence
from pathlib import Path

import click
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

from elt_assets.cli.common import UsageError, use_env_file
from elt_assets.cli.data import gen_events, scaffold
from elt_assets.cli.ops import redrive, status, where
from elt_assets.cli.replay import replay
from elt_assets.cli.stack_commands import demo, dev, local
from elt_assets.cli.stream import stream
from elt_assets.cli.warehouse import sql
from lambda_bridge.exceptions import EltError

# Commands that act on a stack somebody else runs, so they look for its env file; the others
# start their own stack or touch only local files.
_USE_A_RUNNING_STACK = frozenset({"replay", "redrive", "status", "where", "sql", "stream"})


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--env-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read KEY=VALUE settings from this file (default: .elt/local.env when present).",
)
@click.pass_context
def cli(ctx: click.Context, env_file: Path | None) -> None:
    """Serverless ELT: bronze -> silver, with Dagster on top."""
    # Before the command's own options are parsed, so choices such as `replay --dataset`
    # come from the contracts the env file names.
    if ctx.invoked_subcommand in _USE_A_RUNNING_STACK:
        use_env_file(env_file)


for command in (
    demo,
    local,
    dev,
    gen_events,
    where,
    scaffold,
    replay,
    redrive,
    status,
    sql,
    stream,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> int:
    """Run `elt` with `argv` (default: the process's arguments) and return its exit code."""
    try:
        return cli.main(args=argv, prog_name="elt", standalone_mode=False) or 0
    except click.exceptions.NoArgsIsHelpError as exc:
        exc.show()  # a bare `elt` or `elt local`: the help is the answer
        return 2
    except click.UsageError as exc:
        hint = f" (see `{exc.ctx.command_path} --help`)" if exc.ctx else ""
        _say(exc.format_message() + hint)
        return 2
    except click.ClickException as exc:
        _say(exc.format_message())
        return exc.exit_code
    except click.Abort:
        return 130
    except UsageError as exc:
        _say(str(exc))
        return 2
    except EltError as exc:
        _say(str(exc))
    except NoCredentialsError:
        _say("no AWS credentials: run `elt local up` or set AWS credentials")
    except NoRegionError:
        _say("no AWS region: run `elt local up` or set AWS_REGION (or AWS_DEFAULT_REGION)")
    except ClientError as exc:
        error = exc.response.get("Error", {})
        _say(f"AWS said {error.get('Code')}: {error.get('Message')}")
    except BotoCoreError as exc:
        _say(f"cannot reach AWS: {exc}")
    except KeyboardInterrupt:
        return 130
    return 1


def _say(sentence: str) -> None:
    print(f"elt: {sentence}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
