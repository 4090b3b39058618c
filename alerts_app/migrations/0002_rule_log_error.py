from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("alerts_app", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="rule",
            name="log_error",
            field=models.TextField(blank=True, default=""),
        ),
    ]
