"""Helpers over Django's storage API that work the same on a local folder and on S3."""


def storage_walk(storage, folder: str = ""):
    """Every file name under `folder` of `storage`, depth first; nothing for a folder not made yet."""
    try:
        folders, files = storage.listdir(folder)
    except FileNotFoundError:  # a local storage nothing was written to yet
        return
    for name in files:
        yield f"{folder}/{name}" if folder else name
    for sub in folders:
        yield from storage_walk(storage, f"{folder}/{sub}" if folder else sub)
