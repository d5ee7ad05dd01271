import factory

from accounts.models import Role, User
from accounts.services import user_create


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Faker("name")
    company = factory.Faker("company")
    role = Role.USER
    password = "correct-horse-battery"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        # Through the service, so role flags, groups and the audit row are what production makes.
        return user_create(**kwargs)
