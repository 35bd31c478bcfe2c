import workbench


def test_every_public_name_resolves():
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        workbench.nope  # noqa: B018


def test_every_public_object_says_what_it_is_for():
    def documented(obj) -> bool:
        doc = (obj.__doc__ or "").strip()
        return bool(doc) and not doc.startswith(f"{getattr(obj, '__name__', '')}(")  # not a dataclass's signature

    missing = [name for name in workbench.__all__ if not documented(getattr(workbench, name))]
    assert missing == []


def test_the_notebooks_import_only_public_names():
    """What a notebook imports from the package root is part of the public API."""
    import json
    import re
    from pathlib import Path

    names = set()
    for path in (Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"):
        source = "".join(
            "".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"
        )
        for imported in re.findall(r"^from workbench import (.+)$", source, re.MULTILINE):
            names |= {n.strip() for n in imported.split(",")}
    assert names and names <= set(workbench.__all__)
