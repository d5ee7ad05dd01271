from django.db import migrations

from common.operations import ExtensionWherePermitted


class Migration(migrations.Migration):
    # The statement statistics db_metrics shows; they fill once the server preloads the library
    # (docker-compose.yml, docs/database.md).
    dependencies = [("ops", "0005_periodic_tasks_renamed")]

    operations = [ExtensionWherePermitted("pg_stat_statements")]
