import datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("impact", "0001_initial")]
AFTER = [("impact", "0002_impactmetric_aggregation")]


@pytest.mark.django_db(transaction=True)
def test_existing_rates_and_multipliers_become_averages_and_counts_stay_sums():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    place = old.get_model("impact", "Location").objects.create(name="R", region="K", country="IN")
    story = old.get_model("impact", "ImpactStory").objects.create(
        title="S", slug="s", story="T", location=place
    )
    Metric = old.get_model("impact", "ImpactMetric")
    for name, unit in [("Jobs", "people"), ("Women employed", "%"), ("Income uplift", "x"), ("Spend", "")]:
        Metric.objects.create(
            story=story,
            metric_name=name,
            value=1,
            unit=unit,
            period_start=datetime.date(2024, 4, 1),
            period_end=datetime.date(2025, 3, 31),
        )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)

    new = executor.loader.project_state(AFTER).apps.get_model("impact", "ImpactMetric")
    assert dict(new.objects.values_list("metric_name", "aggregation")) == {
        "Jobs": "sum",
        "Women employed": "average",
        "Income uplift": "average",
        "Spend": "sum",
    }
    # Back to the latest schema: the tests after this one expect it.
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())
