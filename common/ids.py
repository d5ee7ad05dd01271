import uuid

from uuid_utils.compat import uuid7 as _uuid7


def uuid7() -> uuid.UUID:
    """
    A time-ordered UUID (version 7) for primary keys: new rows land at the right edge of the B-tree
    instead of at random pages, as uuid4 keys do.
    """
    return _uuid7()
