import ipaddress

from django.conf import settings


def client_ip(request) -> str:
    """
    The client's address. X-Forwarded-For is believed only when the socket peer is one of
    TRUSTED_PROXIES, and then the right-most address not itself a trusted proxy wins: a client can
    prepend anything to the header, but not append.
    """
    remote = request.META.get("REMOTE_ADDR", "") or "0.0.0.0"  # noqa: S104 - a placeholder, never bound
    trusted = set(settings.TRUSTED_PROXIES)
    if not trusted or remote not in trusted:
        return remote
    forwarded = [
        part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()
    ]
    for candidate in reversed(forwarded):
        if candidate in trusted:
            continue
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            break
    return remote
