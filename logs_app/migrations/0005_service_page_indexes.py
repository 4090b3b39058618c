from django.db import migrations

from logs_app.store import schema


class Migration(migrations.Migration):
    dependencies = [("logs_app", "0004_saved_search")]
    operations = [migrations.RunPython(schema.service_indexes, schema.drop_service_indexes)]
