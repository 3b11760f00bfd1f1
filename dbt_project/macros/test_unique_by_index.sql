{#- Generic test: the column is unique because PostgreSQL enforces it - a valid unique index on that
    column alone. For the incremental state tables (13 M rows at national size) this replaces dbt's
    `unique`, which groups the whole table every night to prove what the index already refuses. -#}
{% test unique_by_index(model, column_name) %}
select '{{ column_name }}' as column_without_unique_index
where not exists (
    select 1
    from pg_index as i
    inner join pg_class as c on c.oid = i.indrelid
    inner join pg_namespace as n on n.oid = c.relnamespace
    inner join pg_attribute as a on a.attrelid = c.oid and a.attnum = i.indkey[0]
    where n.nspname = '{{ model.schema }}'
      and c.relname = '{{ model.identifier }}'
      and i.indisunique and i.indisvalid and i.indpred is null and i.indexprs is null
      and i.indnkeyatts = 1
      and a.attname = '{{ column_name }}'
)
{% endtest %}
