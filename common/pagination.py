from rest_framework.pagination import LimitOffsetPagination as _LimitOffsetPagination


class LimitOffsetPagination(_LimitOffsetPagination):
    default_limit = 20
    max_limit = 100
