import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("tenancy", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="organization",
            name="token_max_lifetime_days",
            field=models.PositiveIntegerField(
                blank=True, null=True,
                help_text="Longest life of an API token of this org, in days; empty: no limit.",
                validators=[django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(3650)],
            ),
        ),
    ]
