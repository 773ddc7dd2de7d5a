import pytest

from sandbox.notebook.dbutils import SecretNotFound, WidgetError
from sandbox.notebook.runner import LocalRuntime, NotebookFailed
from sandbox.notebook.source import NotebookFormatError, parse_cells

HEADER = "# Databricks notebook source\n"
SEP = "\n# COMMAND ----------\n\n"


def _write(tmp_path, name, *cells):
    path = tmp_path / f"{name}.py"
    path.write_text(HEADER + SEP.join(cells))
    return path


def test_parse_splits_cells_and_reads_magics():
    cells = parse_cells(HEADER + SEP.join(["# MAGIC %md\n# MAGIC # Title", "x = 1", "# MAGIC %run ./lib"]))
    expected = [("markdown", "# Title"), ("python", "x = 1"), ("run", "./lib")]
    assert [(c.kind, c.source.strip()) for c in cells] == expected


def test_parse_refuses_a_file_without_the_header_and_unknown_magics():
    with pytest.raises(NotebookFormatError, match="first line must be"):
        parse_cells("print(1)\n", "nb.py")
    with pytest.raises(NotebookFormatError, match=r"nb.py, cell 1: magic '%sh' is not supported"):
        parse_cells(HEADER + "# MAGIC %sh ls\n", "nb.py")


def test_widgets_parameters_secrets_and_exit_value(tmp_path):
    nb = _write(tmp_path, "nb",
                'dbutils.widgets.text("name", "default")\n'
                'dbutils.widgets.dropdown("fmt", "delta", ["delta", "parquet"])',
                'token = dbutils.secrets.get("scope", "key")',
                'dbutils.notebook.exit(f"{dbutils.widgets.get(\'name\')}|{dbutils.widgets.get(\'fmt\')}|{len(token)}")',
                'raise AssertionError("cells after exit must not run")')
    runtime = LocalRuntime(spark=None, secrets={"scope": {"key": "s3cr3t"}}, dbfs_root=tmp_path / "dbfs")
    assert runtime.run(nb, {"fmt": "parquet"}).exit_value == "default|parquet|6"
    assert runtime.run(tmp_path / "nb").exit_value == "default|delta|6"  # workspace-style path, no .py


def test_a_failing_cell_names_notebook_and_cell(tmp_path):
    nb = _write(tmp_path, "nb", "x = 1", "1 / 0")
    with pytest.raises(NotebookFailed, match=r"nb.py, cell 2: ZeroDivisionError"):
        LocalRuntime(spark=None, dbfs_root=tmp_path).run(nb)


def test_databricks_errors_for_undefined_widget_bad_choice_and_missing_secret(tmp_path):
    runtime = LocalRuntime(spark=None, secrets={"s": {}}, dbfs_root=tmp_path)
    for body, error in [('dbutils.widgets.get("nope")', WidgetError),
                        ('dbutils.widgets.dropdown("f", "a", ["a"])', WidgetError),
                        ('dbutils.secrets.get("s", "missing")', SecretNotFound)]:
        with pytest.raises(NotebookFailed) as raised:
            runtime.run(_write(tmp_path, "nb", body), {"f": "b"})
        assert isinstance(raised.value.error, error)
    with pytest.raises(NotebookFailed, match="Secret does not exist with scope: s and key: missing"):
        runtime.run(_write(tmp_path, "nb", 'dbutils.secrets.get("s", "missing")'))


def test_percent_run_shares_the_namespace_and_notebook_run_returns_the_child_exit(tmp_path):
    _write(tmp_path, "lib", "helper = 41")
    _write(tmp_path, "child", 'dbutils.widgets.text("n", "0")',
           'dbutils.notebook.exit(str(int(dbutils.widgets.get("n")) * 2))')
    nb = _write(tmp_path, "main", "# MAGIC %run ./lib", 'doubled = dbutils.notebook.run("./child", 60, {"n": "5"})',
                "dbutils.notebook.exit(f'{helper + 1}:{doubled}')")
    assert LocalRuntime(spark=None, dbfs_root=tmp_path).run(nb).exit_value == "42:10"


def test_libraries_are_importable_only_while_the_notebook_runs(tmp_path):
    lib = tmp_path / "lib"
    (lib / "mylib").mkdir(parents=True)
    (lib / "mylib" / "__init__.py").write_text("VALUE = 'from the library'\n")
    nb = _write(tmp_path, "nb", "import mylib\ndbutils.notebook.exit(mylib.VALUE)")
    import sys
    assert LocalRuntime(spark=None, dbfs_root=tmp_path, libraries=[lib]).run(nb).exit_value == "from the library"
    assert str(lib) not in sys.path
    sys.modules.pop("mylib", None)


def test_a_library_wins_over_an_already_imported_copy_of_the_same_package(tmp_path):
    import zipfile

    import parking_sensors  # the source tree's copy, imported by the tests
    wheel = tmp_path / "parking_sensors-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("parking_sensors/__init__.py", "__version__ = 'from-the-wheel'\n")
        z.writestr("parking_sensors-9.9.9.dist-info/METADATA", "Name: parking-sensors\nVersion: 9.9.9\n")
    nb = _write(tmp_path, "nb", "import parking_sensors\ndbutils.notebook.exit(parking_sensors.__version__)")
    assert LocalRuntime(spark=None, dbfs_root=tmp_path, libraries=[wheel]).run(nb).exit_value == "from-the-wheel"
    import sys
    assert sys.modules["parking_sensors"] is parking_sensors  # the caller's copy is back


def test_fs_maps_dbfs_and_mounts_to_local_folders(tmp_path):
    mount = tmp_path / "lake"
    runtime = LocalRuntime(spark=None, dbfs_root=tmp_path / "dbfs", mounts={"/mnt/lake": mount})
    fs = runtime.fs
    fs.put("/mnt/lake/a/b.txt", "hello")
    assert (mount / "a" / "b.txt").read_text() == "hello"
    assert fs.head("dbfs:/mnt/lake/a/b.txt") == "hello"
    with pytest.raises(FileExistsError):
        fs.put("/mnt/lake/a/b.txt", "again")
    fs.cp("/mnt/lake/a", "dbfs:/copy", recurse=True)
    assert [f.name for f in fs.ls("/copy")] == ["b.txt"] and (tmp_path / "dbfs" / "copy" / "b.txt").exists()
    fs.mv("/copy/b.txt", "/moved.txt")
    assert not (tmp_path / "dbfs" / "copy" / "b.txt").exists() and fs.head("/moved.txt") == "hello"
    assert fs.rm("/mnt/lake/a", recurse=True) and not (mount / "a").exists()
    assert [(m.mountPoint, m.source) for m in fs.mounts()] == [("/mnt/lake", str(mount))]
    with pytest.raises(FileNotFoundError):
        fs.ls("/nowhere")
