"""Output shared by the two key-rotation commands (a leading underscore: not a command itself)."""

from compliance.rotation import BatchDone


def batch_line(done: BatchDone) -> str:
    return (
        f"  {done.field}: batch of {done.rows} done up to {done.last_pk} "
        f"({done.rewritten} rewritten, {done.already_current} already current)"
    )


def counts_table(counts: dict) -> list[str]:
    """`counts` as KeyRotation.counts holds it: {field: {"rows", "rewritten", "already_current"}}."""
    width = max([len("field"), *(len(field) for field in counts)])
    lines = [f"{'field':<{width}}  {'rows':>8}  {'rewritten':>9}  {'already current':>15}"]
    for field, c in counts.items():
        lines.append(f"{field:<{width}}  {c['rows']:>8}  {c['rewritten']:>9}  {c['already_current']:>15}")
    return lines
