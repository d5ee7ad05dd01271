import hashlib

from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import QueryDict
from django.utils.datastructures import MultiValueDict

# Multipart framing around the file (boundaries, headers, other fields) that Content-Length includes.
_FRAMING_SLACK = 64 * 1024


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """
    Streams the upload to a temporary file, hashing it on the way, and stops reading the body the
    moment it passes `limit` bytes (or at once when Content-Length already says it will), so an
    oversized file is never stored. `too_large` tells the view why the file is missing; the connection
    is closed rather than the rest of the body read.
    """

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0
        self.too_large = False
        self.sha256 = hashlib.sha256()

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length and content_length > self.limit + _FRAMING_SLACK:
            # Returning (POST, FILES) here ends parsing before a byte of the body is read.
            self.too_large = True
            return QueryDict(), MultiValueDict()
        return super().handle_raw_input(input_data, META, content_length, boundary, encoding)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = True
            raise StopUpload(connection_reset=True)
        self.sha256.update(raw_data)
        return super().receive_data_chunk(raw_data, start)
