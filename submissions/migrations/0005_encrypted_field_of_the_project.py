import common.fields
from django.db import migrations


class Migration(migrations.Migration):
    """
    The project's own encrypted field replaces django-cryptography's: the same binary column and the same
    stored form (a pickle, encrypted), so the values already there read as before (common/fields.py).
    """

    dependencies = [
        ('submissions', '0004_enqueue_failed'),
    ]

    operations = [
        migrations.AlterField(
            model_name='formsubmission',
            name='data',
            field=common.fields.EncryptedJSONField(default=dict),
        ),
    ]
