from django.db import migrations

from logs_app.store import schema


class Migration(migrations.Migration):
    dependencies = [("logs_app", "0002_store")]
    operations = [migrations.RunPython(schema.hash_id_indexes, schema.btree_id_indexes)]
