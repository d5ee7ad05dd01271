"""
No reaching into libraries' private parts: every `obj._name` in the project's source (tests aside) is
either on the object's own class (`self`, `cls`, `super()`), or listed below with the reason it is
allowed. Each library internal the project cannot do without is held by one wrapper, which has a test
of its own that fails on an upgrade that changes it.
"""

import ast

from config.tests.test_layers import ROOT, _is_source

# Django documents these on its models and managers ("Model _meta API", Model._state, Manager._db).
DOCUMENTED = {"_meta", "_state", "_base_manager", "_default_manager", "_db"}
ALLOWED = {
    # The one reader of Django's per-process pools, and psycopg_pool's closed flag after a fork: no
    # public way exists (common/tests/test_pools.py holds both to the installed versions).
    ("common/pools.py", "_connection_pools"),
    ("common/pools.py", "_closed"),
    # drf-spectacular's documented way for a serializer extension to map the serializer it wraps.
    ("accounts/api/serializers.py", "_map_serializer"),
}


def private_accesses(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = ast.unparse(node.value)
            if owner not in ("self", "cls") and not owner.startswith("super("):
                found.add(node.attr)
    return found


def test_no_private_attribute_of_a_library_outside_its_one_wrapper():
    offenders = []
    for path in sorted(ROOT.glob("*/**/*.py")):
        relative = path.relative_to(ROOT)
        if not _is_source(relative):
            continue
        for name in sorted(private_accesses(path.read_text()) - DOCUMENTED):
            if (str(relative), name) not in ALLOWED:
                offenders.append(f"{relative}: .{name}")
    assert offenders == []


def test_the_check_sees_a_private_attribute():
    assert private_accesses("field._fernet = keyring\nself._own = 1\nsuper()._hook()\n") == {"_fernet"}


def test_the_allowed_accesses_are_still_there():
    # A wrapper that no longer needs its exception should lose it here too.
    stale = [
        (file, name) for file, name in ALLOWED if name not in private_accesses((ROOT / file).read_text())
    ]
    assert stale == []
