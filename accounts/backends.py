from django.contrib.auth.backends import ModelBackend

from common.context import user_authenticated


class EmailBackend(ModelBackend):
    """ModelBackend with the e-mail as the (case-insensitive) user name, so `email=` works too."""

    def authenticate(self, request, username=None, password=None, email=None, **kwargs):
        user = super().authenticate(request, username=username or email, password=password, **kwargs)
        if user is not None:
            # A log-in writes (last_login): the replica router pins the user it notes here.
            user_authenticated(user)
        return user

    def get_user(self, user_id):
        # Called when a session's lazy request.user is first used: noted for the code below the view.
        user = super().get_user(user_id)
        if user is not None:
            user_authenticated(user)
        return user
