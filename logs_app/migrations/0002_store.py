from django.db import migrations

from logs_app.store import schema


class Migration(migrations.Migration):
    dependencies = [("logs_app", "0001_exports")]
    operations = [migrations.RunPython(schema.create, schema.drop)]
