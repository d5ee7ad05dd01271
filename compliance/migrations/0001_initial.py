import common.ids
import django.db.models.functions.datetime
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):
    """
    The erasure journal's records and the key rotations move from audit (which keeps the log and its
    chain only) to compliance. Their tables are taken over as they are (state only), then renamed.
    """

    initial = True

    dependencies = [("audit", "0005_erasure_stamped_by_database")]

    moved = [
        migrations.CreateModel(
            name='ErasureRecord',
            fields=[
                ('id', models.UUIDField(default=common.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('user_id', models.UUIDField(blank=True, db_index=True, null=True)),
                ('email_hash', models.CharField(blank=True, db_index=True, max_length=64)),
                ('erased_at', models.DateTimeField(db_default=django.db.models.functions.datetime.Now(), db_index=True)),
                ('reason', models.CharField(choices=[('self_service', 'Asked for by the user'), ('admin', 'Erased by an admin'), ('visitor', "A visitor's forms, erased by an admin")], max_length=16)),
                ('actor_id', models.UUIDField(blank=True, null=True)),
            ],
            options={
                'ordering': ['erased_at'],
                'db_table': 'audit_erasurerecord',
            },
        ),
        migrations.CreateModel(
            name='KeyRotation',
            fields=[
                ('id', models.UUIDField(default=common.ids.uuid7, editable=False, primary_key=True, serialize=False)),
                ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, editable=False)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('kind', models.CharField(choices=[('field_key', 'Field encryption key'), ('blind_index', 'Blind index key')], max_length=16)),
                ('target', models.CharField(max_length=64)),
                ('progress', models.JSONField(blank=True, default=dict)),
                ('counts', models.JSONField(blank=True, default=dict)),
                ('finished_at', models.DateTimeField(blank=True, null=True)),
            ],
            options={
                'ordering': ['-created_at'],
                'db_table': 'audit_keyrotation',
                'constraints': [models.UniqueConstraint(fields=('kind', 'target'), name='audit_keyrotation_kind_target')],
            },
        ),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(state_operations=moved, database_operations=[]),
        migrations.AlterModelTable(name='erasurerecord', table=None),
        migrations.AlterModelTable(name='keyrotation', table=None),
        migrations.RemoveConstraint(model_name='keyrotation', name='audit_keyrotation_kind_target'),
        migrations.AddConstraint(
            model_name='keyrotation',
            constraint=models.UniqueConstraint(fields=('kind', 'target'), name='compliance_keyrotation_kind_target'),
        ),
    ]
