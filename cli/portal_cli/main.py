"""`portal`: the commands. Each one calls the REST API, prints a table (or JSON with --json) and exits with a code
scripts can trust (see client.py)."""

import functools
import json
import sys
import time
import webbrowser

import click
from rich.console import Console
from rich.table import Table

from portal_cli.client import (
    EXIT_FAILED,
    EXIT_NOT_FOUND,
    EXIT_TIMEOUT,
    EXIT_USAGE,
    Api,
    CliError,
    config_path,
    config_save,
)

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

# Where a wait ends: the resource is usable, finished, or needs a person.
SETTLED = {"ready", "running", "succeeded", "stopped", "failed", "rejected", "deleted", "awaiting_approval"}
FAILED = {"failed", "rejected"}


class State:
    def __init__(self):
        self.json = False
        self.url = None
        self.token = None

    def api(self, **kwargs) -> Api:
        return Api(self.url, self.token, **kwargs)


def command(group, *args, **kwargs):
    """A command with --json, whose CliError ends the program with the portal's message and the right code."""

    def decorate(function):
        @group.command(*args, **kwargs)
        @click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
        @click.pass_obj
        @functools.wraps(function)
        def wrapper(state, *fargs, as_json=False, **fkwargs):
            state.json = state.json or as_json
            try:
                function(state, *fargs, **fkwargs)
            except CliError as exc:
                if state.json:
                    click.echo(json.dumps({"error": exc.code, "message": exc.message, **exc.body}))
                err.print(f"[red]Error:[/red] {exc.message}", markup=True)
                sys.exit(exc.exit_code)

        return wrapper

    return decorate


def emit(state: State, data, table: Table | None = None, text: str | None = None):
    if state.json:
        click.echo(json.dumps(data, indent=2, default=str))
    elif table is not None:
        out.print(table)
    elif text is not None:
        out.print(text, markup=False)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", envvar="PORTAL_URL", help="The portal's address (default: from `portal login`).")
@click.option("--token", envvar="PORTAL_TOKEN", help="An API token (default: from `portal login`).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@click.version_option(package_name="portal-cli")
@click.pass_context
def cli(ctx, url, token, as_json):
    """The research platform portal from the command line."""
    ctx.obj = State()
    ctx.obj.url, ctx.obj.token, ctx.obj.json = url, token, as_json


@command(cli, "login")
@click.argument("url")
@click.option("--token", "given_token", help="Use this API token instead of asking for user name and password.")
@click.option("--username", help="Your user name or email (asked when missing).")
def login(state, url, given_token, username):
    """Sign in to the portal at URL and keep the token in your config folder (mode 0600)."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise CliError("The address starts with https:// (or http:// on your own machine).", exit_code=EXIT_USAGE)
    token = given_token
    if not token:
        username = username or click.prompt("User name or email")
        password = click.prompt("Password", hide_input=True)
        token = Api(url, need_token=False).post("auth/token/", {"username": username, "password": password})["token"]
    me = Api(url, token).get("me/")
    path = config_save(url=url, token=token)
    emit(
        state,
        {"url": url, "username": me["username"], "config": str(path)},
        text=f"Signed in to {url} as {me['username']}.",
    )


def _templates_table(templates) -> Table:
    table = Table("template", "kind", "name", "summary")
    for t in templates:
        table.add_row(t["slug"], t["kind"], t["name"], t.get("summary", ""))
    return table


@command(cli, "templates")
def templates(state):
    """What you can ask for: each template's slug, kind and summary."""
    items = state.api().get("templates/")
    emit(state, items, _templates_table(items))


def _coerce(name: str, raw: str, schema: dict):
    """A --param value as the template's schema types it ("5" is 5 for an integer)."""
    prop = (schema.get("properties") or {}).get(name)
    if prop is None:
        known = ", ".join(sorted(schema.get("properties") or {})) or "none"
        raise CliError(f"This template has no parameter '{name}'. Its parameters: {known}.", exit_code=EXIT_USAGE)
    kind = prop.get("type")
    try:
        if kind == "integer":
            return int(raw)
        if kind == "number":
            return float(raw)
    except ValueError:
        raise CliError(f"{name} must be a number, not '{raw}'.", exit_code=EXIT_USAGE) from None
    if kind == "boolean":
        if raw.lower() in ("true", "yes", "1", "on"):
            return True
        if raw.lower() in ("false", "no", "0", "off"):
            return False
        raise CliError(f"{name} is yes or no, not '{raw}'.", exit_code=EXIT_USAGE)
    if kind == "array":
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def parse_params(pairs, schema: dict) -> dict:
    params = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name:
            raise CliError(f"Write parameters as name=value, not '{pair}'.", exit_code=EXIT_USAGE)
        params[name] = _coerce(name, raw, schema)
    return params


def _read(api: Api, resource_id: str, last: dict | None, until) -> dict:
    """The resource now. Once its deletion is asked for, its address answers 404; then the list, which still shows
    resources being deleted (?state=deleting), tells whether the deletion is still under way."""
    try:
        return api.get(f"resources/{resource_id}/")
    except CliError as exc:
        if exc.exit_code == EXIT_NOT_FOUND and "deleted" in until and last is not None:
            deleting = [r for r in api.get_all("resources/", state="deleting") if r["id"] == resource_id]
            if deleting:
                return deleting[0]
            return {**last, "state": "deleted", "state_label": "Deleted", "status_message": "Deleted."}
        raise


def wait_until_settled(
    state: State, api: Api, resource_id: str, timeout: float, until=SETTLED, last: dict | None = None
) -> dict:
    """Poll the resource, showing a live line, until it settles; exit codes for failure and timeout."""
    deadline = time.monotonic() + timeout
    resource = _read(api, resource_id, last, until)
    status = None if state.json else err.status("")
    if status:
        status.start()
    try:
        while resource["state"] not in until:
            if time.monotonic() > deadline:
                raise CliError(
                    f"Gave up waiting after {timeout:.0f} s: {resource['name']} is {resource['state_label'].lower()}.",
                    code="timeout",
                    exit_code=EXIT_TIMEOUT,
                )
            if status:
                message = resource.get("status_message") or ""
                status.update(f"{resource['name']}: {resource['state_label']}{' - ' + message if message else ''}")
            time.sleep(1)
            resource = _read(api, resource_id, resource, until)
    finally:
        if status:
            status.stop()
    return resource


def _resource_text(resource: dict) -> str:
    lines = [
        f"{resource['name']} ({resource['template']}, team {resource['team']})",
        f"  id:     {resource['id']}",
        f"  state:  {resource['state_label']}"
        + (f" - {resource['status_message']}" if resource["status_message"] else ""),
    ]
    for key, value in (resource.get("parameters") or {}).items():
        lines.append(f"  {key}: {value}")
    for key, value in (resource.get("outputs") or {}).items():
        lines.append(f"  {key}: {value}")
    return "\n".join(lines)


def _finish_wait(state: State, resource: dict) -> None:
    emit(state, resource, text=_resource_text(resource))
    if resource["state"] in FAILED:
        err.print(f"{resource['name']} {resource['state_label'].lower()}: {resource['status_message']}", markup=False)
        sys.exit(EXIT_FAILED)


@command(cli, "new")
@click.argument("template")
@click.option("--name", required=True, help="Lowercase letters, digits and dashes; unique in the team.")
@click.option("--team", help="Team slug (needed when you are in several teams).")
@click.option("--param", "params", multiple=True, metavar="NAME=VALUE", help="A template parameter; repeat.")
@click.option("--wait", is_flag=True, help="Show progress until it is ready (or failed).")
@click.option("--timeout", default=900.0, show_default=True, help="Seconds to wait with --wait.")
def new(state, template, name, team, params, wait, timeout):
    """Ask for a new resource made from TEMPLATE."""
    api = state.api()
    schema = api.get(f"templates/{template}/")["parameters_schema"]
    body = {"template": template, "name": name, "parameters": parse_params(params, schema)}
    if team:
        body["team"] = team
    resource = api.post("resources/", body)
    if wait:
        resource = wait_until_settled(state, api, resource["id"], timeout)
        _finish_wait(state, resource)
        return
    emit(state, resource, text=f"Requested {resource['name']} ({resource['id']}): {resource['state_label']}.")


@command(cli, "ls")
@click.option("--team", help="Only this team's resources.")
@click.option("--kind", help="Only this kind (notebook, training_job, bucket, database, terraform).")
@click.option("--state", "state_filter", help="Only resources in this state.")
@click.option("--all", "show_all", is_flag=True, help="Include deleted resources.")
def ls(state, team, kind, state_filter, show_all):
    """Your teams' resources."""
    items = state.api().get_all("resources/", team=team, kind=kind, state=state_filter)
    if not show_all and not state_filter:
        items = [r for r in items if r["state"] != "deleted"]
    table = Table("id", "name", "template", "team", "state", "created")
    for r in items:
        table.add_row(r["id"][:8], r["name"], r["template"], r["team"], r["state_label"], r["created_at"][:16])
    emit(state, items, table)


@command(cli, "show")
@click.argument("resource")
def show(state, resource):
    """A resource's state, parameters, connection details (no secrets), recent events."""
    api = state.api()
    detail = api.get(f"resources/{api.resource_id(resource)}/")
    text = _resource_text(detail)
    if detail.get("events"):
        text += "\n  events:\n" + "\n".join(f"    {e['at'][:19]} {e['message']}" for e in detail["events"][:10])
    emit(state, detail, text=text)


@command(cli, "logs")
@click.argument("resource")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the resource settles.")
@click.option("--tail", default=200, show_default=True, help="Lines of the program's output.")
def logs(state, resource, follow, tail):
    """The latest operation's log and what the resource's program printed."""
    api = state.api()
    resource_id = api.resource_id(resource)
    body = api.get(f"resources/{resource_id}/logs/", tail=tail)
    if state.json and not follow:
        emit(state, body)
        return
    shown = {"log": "", "output": ""}

    def show_new(body):
        for key in ("log", "output"):
            text = body.get(key) or ""
            new_text = text[len(shown[key]) :] if text.startswith(shown[key]) else text
            if new_text:
                click.echo(new_text, nl=not new_text.endswith("\n"))
            shown[key] = text

    show_new(body)
    while follow:
        resource_state = api.get(f"resources/{resource_id}/")["state"]
        if resource_state in SETTLED - {"running"}:
            show_new(api.get(f"resources/{resource_id}/logs/", tail=tail))
            break
        time.sleep(2)
        show_new(api.get(f"resources/{resource_id}/logs/", tail=tail))


@command(cli, "credentials")
@click.argument("resource")
def credentials(state, resource):
    """A resource's secrets (passwords, keys, tokens). The portal records that you looked."""
    api = state.api()
    body = api.post(f"resources/{api.resource_id(resource)}/credentials/", {})  # a reveal: POST, and recorded
    table = Table("name", "value")
    for key, value in body["credentials"].items():
        table.add_row(key, value)
    emit(state, body["credentials"], table)


def _action(state, resource, action, wait, timeout, until):
    api = state.api()
    resource_id = api.resource_id(resource)
    if action == "delete":
        result = api.delete(f"resources/{resource_id}/")
    else:
        result = api.post(f"resources/{resource_id}/{action}/")
    if wait:
        _finish_wait(state, wait_until_settled(state, api, resource_id, timeout, until=until, last=result))
        return
    emit(state, result, text=f"{result['name']}: {result['state_label']}.")


@command(cli, "stop")
@click.argument("resource")
@click.option("--wait", is_flag=True)
@click.option("--timeout", default=600.0, show_default=True)
def stop(state, resource, wait, timeout):
    """Stop a notebook, keeping its files."""
    _action(state, resource, "stop", wait, timeout, SETTLED - {"running"})


@command(cli, "start")
@click.argument("resource")
@click.option("--wait", is_flag=True)
@click.option("--timeout", default=600.0, show_default=True)
def start(state, resource, wait, timeout):
    """Start a stopped resource again."""
    _action(state, resource, "start", wait, timeout, SETTLED - {"stopped"})


@command(cli, "delete")
@click.argument("resource")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--wait", is_flag=True, help="Wait until it is gone.")
@click.option("--timeout", default=600.0, show_default=True)
def delete(state, resource, yes, wait, timeout):
    """Delete a resource and its data."""
    if not yes:
        if not sys.stdin.isatty():
            raise CliError("Deleting needs --yes when nobody can answer the question.", exit_code=EXIT_USAGE)
        click.confirm(f"Delete {resource} and everything in it?", abort=True)
    _action(state, resource, "delete", wait, timeout, {"deleted", "failed"})


@command(cli, "open")
@click.argument("resource")
def open_(state, resource):
    """Open a notebook (or a resource's page) in your browser."""
    api = state.api()
    url = api.post(f"resources/{api.resource_id(resource)}/open/")["url"]  # a one-time link where the portal can
    opened = webbrowser.open(url)
    emit(state, {"url": url, "opened": opened}, text=url if not opened else f"Opened {url}")


@cli.group("files")
def files_group():
    """Your team's files: the team folder, notebooks' and jobs' working folders, and buckets."""


@command(files_group, "ls")
@click.argument("root", required=False)
@click.argument("path", required=False, default="")
def files_ls(state, root, path):
    """Without ROOT: the places your files live. With ROOT (e.g. team-<slug>): what a folder holds."""
    api = state.api()
    if not root:
        roots = api.get("files/")
        table = Table("Root", "What", "Team")
        for item in roots:
            table.add_row(item["key"], item["label"], item["team"])
        emit(state, roots, table)
        return
    listing = api.request("GET", f"files/{root}/", params={"path": path} if path else {})
    if not listing["is_dir"]:
        emit(state, listing, text=f"{listing['path']}: {listing['size']} bytes")
        return
    table = Table("Name", "Size", "Changed")
    for entry in listing["entries"]:
        size = "" if entry["is_dir"] else str(entry["size"])
        table.add_row(entry["name"] + ("/" if entry["is_dir"] else ""), size, str(entry["modified"] or ""))
    emit(state, listing, table)


@command(files_group, "get")
@click.argument("root")
@click.argument("path")
@click.option("-o", "--output", help="Where to write it (default: its name here; a folder comes as a .zip).")
def files_get(state, root, path, output):
    """Download a file, or a folder as a zip."""
    from pathlib import Path

    api = state.api()
    listing = api.request("GET", f"files/{root}/", params={"path": path} if path else {})
    name = (path.rstrip("/").rsplit("/", 1)[-1] or root) + (".zip" if listing["is_dir"] else "")
    target = Path(output or name)
    with target.open("wb") as handle:
        size = api.download(f"files/{root}/download/", {"path": path}, handle)
    emit(state, {"path": str(target), "bytes": size}, text=f"Wrote {target} ({size} bytes).")


@command(files_group, "put")
@click.argument("root")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--to", "folder", default="", help="The folder inside ROOT to put them in (default: its top).")
def files_put(state, root, files, folder):
    """Upload files (streamed; big files are fine)."""
    from contextlib import ExitStack
    from pathlib import Path

    api = state.api()
    with ExitStack() as stack:
        parts = [("files", (Path(f).name, stack.enter_context(open(f, "rb")))) for f in files]  # noqa: SIM115
        body = api.request("POST", f"files/{root}/upload/", data={"path": folder}, files=parts)
    emit(state, body, text=body["message"])


@command(cli, "ids")
@click.option("--kind", type=click.Choice(["uuid4", "uuid7", "snowflake"]), default="uuid4", show_default=True)
@click.option("--count", default=1, show_default=True)
def ids(state, kind, count):
    """Identifiers from the platform's identifier service."""
    body = state.api().get("ids/", kind=kind, count=count)
    emit(state, body, text="\n".join(body["ids"]))


@command(cli, "whoami")
def whoami(state):
    """Who the token belongs to, and where it is kept."""
    me = state.api().get("me/")
    emit(state, me, text=f"{me['username']} on {state.api().url} (config: {config_path()})")


def _declaration(path: str, team: str | None) -> dict:
    import yaml

    try:
        from pathlib import Path

        text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except OSError as exc:
        raise CliError(f"Cannot read {path}: {exc.strerror}.", exit_code=EXIT_USAGE) from None
    except yaml.YAMLError as exc:
        raise CliError(f"{path} is not valid YAML: {exc}", exit_code=EXIT_USAGE) from None
    if not isinstance(data, dict):
        raise CliError(f"{path} should hold `team:` and `resources:`.", exit_code=EXIT_USAGE)
    if team:
        data["team"] = team
    if not data.get("team"):
        raise CliError(f"Say which team: `team:` in {path}, or --team.", exit_code=EXIT_USAGE)
    return {"team": data["team"], "resources": data.get("resources") or []}


SIGNS = {"create": "+", "update": "~", "delete": "-", "unchanged": "=", "kept": " ", "refused": "!"}


def _steps_text(steps) -> str:
    lines = []
    for step in steps:
        line = f"{SIGNS[step['action']]} {step['action']:<9} {step['name']} ({step['template']})"
        if step["changes"] and step["action"] in ("update", "refused"):
            line += ": " + ", ".join(f"{k} {c['from']!r} -> {c['to']!r}" for k, c in step["changes"].items())
        if step["message"]:
            line += f"  [{step['message']}]"
        lines.append(line)
    counts = {a: sum(s["action"] == a for s in steps) for a in ("create", "update", "delete", "refused")}
    lines.append(", ".join(f"{n} to {a}" if a != "refused" else f"{n} refused" for a, n in counts.items()))
    return "\n".join(lines)


def _apply(state: State, path: str, team: str | None, prune: bool, dry_run: bool) -> None:
    body = _declaration(path, team)
    result = state.api().post("apply/", {**body, "prune": prune, "dry_run": dry_run})
    emit(state, result, text=_steps_text(result["steps"]))
    if not result["ok"]:
        sys.exit(1)


@command(cli, "apply")
@click.option("-f", "--file", "path", required=True, help="A YAML file of resources (- for stdin).")
@click.option("--team", help="The team (instead of `team:` in the file).")
@click.option("--prune", is_flag=True, help="Delete the team's resources the file does not declare.")
def apply_(state, path, team, prune):
    """Make the portal match a file of resources: create what is missing, change what the template allows."""
    _apply(state, path, team, prune, dry_run=False)


@command(cli, "diff")
@click.option("-f", "--file", "path", required=True, help="A YAML file of resources (- for stdin).")
@click.option("--team", help="The team (instead of `team:` in the file).")
@click.option("--prune", is_flag=True, help="Also show what --prune would delete.")
def diff(state, path, team, prune):
    """What `portal apply -f` would do, changing nothing."""
    _apply(state, path, team, prune, dry_run=True)


@command(cli, "export")
@click.option("--team", required=True, help="The team whose resources to write.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write to this file.")
def export(state, team, output):
    """A team's resources in the format `portal apply -f` reads."""
    import yaml

    body = state.api().get("export/", team=team)
    if state.json:
        emit(state, body)
        return
    text = yaml.safe_dump(body, sort_keys=False)
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        err.print(f"Wrote {len(body['resources'])} resource(s) of {team} to {output}.", markup=False)
    else:
        click.echo(text, nl=False)


@command(cli, "project-templates")
def project_templates(state):
    """Project templates you can generate a project from (`portal generate SLUG`)."""
    items = state.api().get("project-templates/")
    table = Table("template", "name", "summary")
    for t in items:
        table.add_row(t["slug"], t["name"], t["summary"])
    emit(state, items, table)


@command(cli, "generate")
@click.argument("template")
@click.option("--answer", "answers", multiple=True, metavar="QUESTION=VALUE", help="An answer; repeat.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Where to save the zip (default: NAME.zip).")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait for the worker.")
def generate(state, template, answers, output, timeout):
    """Generate a project from a project template and download it as a zip."""
    api = state.api()
    found = [t for t in api.get("project-templates/") if t["slug"] == template]
    if not found:
        raise CliError(f"No project template '{template}'; `portal project-templates` lists them.", exit_code=4)
    body = {"answers": parse_params(answers, found[0]["questions_schema"])}
    generation = api.post(f"project-templates/{template}/generate/", body)
    deadline = time.monotonic() + timeout
    while generation["state"] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise CliError(f"Gave up waiting after {timeout:.0f} s.", code="timeout", exit_code=EXIT_TIMEOUT)
        time.sleep(1)
        generation = api.get(f"projects/{generation['id']}/")
    if generation["state"] != "done":
        raise CliError(
            f"The project could not be generated: {generation['error']}", code="failed", exit_code=EXIT_FAILED
        )
    response = api.http.get(generation["download"].removeprefix("/api/v1/"))
    target = output or f"{generation['answers'].get('package_name') or template}.zip"
    with open(target, "wb") as handle:
        handle.write(response.content)
    emit(
        state,
        {**generation, "file": target},
        text=f"Saved {target} (template {template}, version {generation['version']}).",
    )


def main():
    cli(prog_name="portal")
