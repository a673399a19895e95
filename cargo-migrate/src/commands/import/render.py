# Renders every revision of an Alembic project to SQL, offline, through the
# project's own env.py: cargo-migrate's `import --from alembic`.
#
#   python render.py ALEMBIC_INI DIALECT OUTPUT_JSON
#
# One `upgrade base:heads --sql` and one `downgrade heads:base --sql`, each
# revision's function wrapped so that it renders into a buffer of its own
# (Alembic's own version-table bookkeeping is written outside it) and so that
# one that raises is recorded and does not stop the others. `op.get_bind()`
# returns a stand-in whose `commit()` and autocommit isolation level are
# recorded (the revision then runs outside a transaction) and whose `execute()` with parameters raises (the
# mock connection would drop them). Writes JSON to OUTPUT_JSON: env.py may
# print to stdout.
import functools
import json
import os
import sys
import traceback


def main():
    ini, dialect, output = sys.argv[1], sys.argv[2], sys.argv[3]
    try:
        import alembic
        from alembic import command
        from alembic.config import Config
        from alembic.operations import Operations
        from alembic.runtime.migration import MigrationContext, RevisionStep
        from alembic.script import ScriptDirectory
    except ImportError as e:
        write(output, {"error": "no-alembic", "message": str(e)})
        return

    urls = {"postgres": "postgresql://", "sqlite": "sqlite://", "mysql": "mysql://"}
    cfg = Config(ini)
    # Offline rendering needs a dialect, not a database: env.py usually reads
    # this option (a project whose env.py takes its URL elsewhere renders for
    # that URL's dialect, which is checked below).
    cfg.set_main_option("sqlalchemy.url", urls[dialect])
    script_dir = ScriptDirectory.from_config(cfg)

    seen = {"dialects": set(), "version_tables": set(), "contexts": 0}
    current = {"revision": None, "commits": False}
    outputs = {"upgrade": {}, "downgrade": {}}

    original_init = MigrationContext.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        seen["contexts"] += 1
        seen["dialects"].add(self.dialect.name)
        table = self.version_table
        if self.version_table_schema:
            table = self.version_table_schema + "." + table
        seen["version_tables"].add(table)

    MigrationContext.__init__ = init

    class Unsupported(Exception):
        pass

    class OfflineBind:
        """`op.get_bind()` offline: the mock connection, plus commit()."""

        def __init__(self, mock):
            self._mock = mock

        def commit(self):
            current["commits"] = True

        def execution_options(self, **options):
            # Autocommit from here on: the revision runs outside a transaction.
            if options.get("isolation_level") == "AUTOCOMMIT":
                current["commits"] = True
            return self

        def execute(self, statement, parameters=None, *args, **kwargs):
            if parameters:
                raise Unsupported("execute() with parameters cannot render offline")
            return self._mock.execute(statement)

        def exec_driver_sql(self, *args, **kwargs):
            raise Unsupported("exec_driver_sql() cannot render offline")

        def __getattr__(self, name):
            return getattr(self._mock, name)

    original_get_bind = Operations.get_bind

    def get_bind(self):
        bind = original_get_bind(self)
        if self.migration_context.as_sql:
            return OfflineBind(bind)
        return bind

    Operations.get_bind = get_bind

    original_step_init = RevisionStep.__init__

    def step_init(self, revision_map, revision, is_upgrade):
        original_step_init(self, revision_map, revision, is_upgrade)
        self.migration_fn = wrapped(self.migration_fn, "upgrade" if is_upgrade else "downgrade", revision)

    RevisionStep.__init__ = step_init

    def wrapped(function, direction, revision):
        @functools.wraps(function)
        def run(*args, **kwargs):
            from alembic import op

            impl = op.get_context().impl
            buffer = impl.output_buffer
            capture = Capture()
            impl.output_buffer = capture
            current["commits"] = False
            try:
                function(*args, **kwargs)
                result = {"sql": "".join(capture.parts), "commits": current["commits"]}
            except Exception as e:
                result = raised(e, revision.path)
            finally:
                impl.output_buffer = buffer
            outputs[direction][revision.revision] = result

        return run

    failures = []
    for direction, fn, target in (("upgrade", command.upgrade, "base:heads"), ("downgrade", command.downgrade, "heads:base")):
        try:
            cfg.output_buffer = Capture()
            fn(cfg, target, sql=True)
        except Exception as e:
            failures.append({"direction": direction, "error": describe(e), "traceback": traceback.format_exc()})

    scripts = []
    walked = list(script_dir.walk_revisions("base", "heads"))
    walked.reverse()
    for sc in walked:
        deps = getattr(sc, "_resolved_dependencies", None) or ()
        scripts.append(
            {
                "revision": sc.revision,
                "down_revisions": list(as_tuple(sc.down_revision)),
                "branch_labels": sorted(own_labels(sc)),
                "depends_on": list(deps),
                "message": (sc.doc or "").strip(),
                "path": sc.path,
                "source": read(sc.path),
                "upgrade": outputs["upgrade"].get(sc.revision),
                "downgrade": outputs["downgrade"].get(sc.revision),
            }
        )
    write(
        output,
        {
            "alembic": alembic.__version__,
            "dialects": sorted(seen["dialects"]),
            "version_tables": sorted(seen["version_tables"]),
            # One per walk, unless env.py migrates several databases.
            "contexts": seen["contexts"],
            "failures": failures,
            "scripts": scripts,
        },
    )


class Capture:
    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass


def as_tuple(value):
    if value is None:
        return ()
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def own_labels(script):
    """The labels the script declares (`branch_labels` also holds those its
    ancestors pass down)."""
    own = getattr(script, "_orig_branch_labels", None)
    return own if own is not None else (script.branch_labels or ())


def describe(e):
    message = str(e).strip().splitlines()
    return type(e).__name__ + (": " + message[0] if message else "")


def raised(e, path):
    """What a revision function raised: the script's line it came from, and
    whether a `raise` statement of the script itself raised it."""
    line, on_purpose = None, False
    frames = traceback.extract_tb(e.__traceback__)
    innermost = frames[-1] if frames else None
    for frame in frames:
        if os.path.abspath(frame.filename) == os.path.abspath(path):
            line = frame.lineno
            on_purpose = frame is innermost and (frame.line or "").lstrip().startswith("raise")
    return {"error": describe(e), "line": line, "on_purpose": on_purpose}


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def write(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f)


main()
