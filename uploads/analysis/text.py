"""Plain text: encoding, lines and characters, and whether it is really text."""

import re

from .registry import AnalysisError, register
from .shared import ENCODING_NAMES, detect_encoding, n

# Plain text is counted in chunks of this many characters, whatever its line lengths.
TEXT_READ_CHARS = 256 * 1024


# --- Plain text -------------------------------------------------------------------------------------

# C0 and C1 control characters other than tab, line breaks, form feed and escape (coloured logs).
_CONTROL = re.compile(r"[\x01-\x08\x0e-\x1a\x1c-\x1f\x7f\x80-\x9f]")


@register("text")
def _analyse_text(path: str) -> tuple[str, dict]:
    encoding = detect_encoding(path, max_line=False)
    lines = words = characters = longest = current = controls = 0
    in_word = False
    last = ""
    # Universal newlines: \r\n and \r are read as \n, so each line break counts as one character.
    with open(path, encoding=encoding) as handle:
        while text := handle.read(TEXT_READ_CHARS):
            characters += len(text)
            breaks = text.count("\n")
            if breaks:
                parts = text.split("\n")
                longest = max(longest, current + len(parts[0]), max(map(len, parts[1:-1]), default=0))
                current = len(parts[-1])
                lines += breaks
            else:
                current += len(text)
            pieces = len(text.split())
            if pieces and in_word and not text[0].isspace():
                pieces -= 1  # a word cut by the chunk boundary
            words += pieces
            in_word = not text[-1].isspace()
            controls += len(_CONTROL.findall(text))
            last = text[-1]
    longest = max(longest, current)
    if characters and last != "\n":
        lines += 1
    if controls and controls * 100 > characters:
        raise AnalysisError(
            f"The file looks like binary data, not text: {controls:,} of its {characters:,} characters "
            "are control characters."
        )
    details = {
        "encoding": encoding,
        "lines": lines,
        "words": words,
        "characters": characters,
        "longest_line": longest,
    }
    if not characters:
        return "An empty text file.", details
    summary = (
        f"A text file ({ENCODING_NAMES[encoding]}) with {n(lines, 'line')}, {n(words, 'word')} and "
        f"{n(characters, 'character')}; the longest line has {n(longest, 'character')}."
    )
    return summary, details
