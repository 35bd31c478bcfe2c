import workbench


def test_every_public_name_resolves():
    for name in workbench.__all__:
        assert getattr(workbench, name) is not None, name


def test_unknown_name_is_an_attribute_error():
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        workbench.nope  # noqa: B018
