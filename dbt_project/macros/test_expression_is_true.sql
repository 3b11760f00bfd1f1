{#- Generic test: every row satisfies the SQL expression (no packages can be installed here). -#}
{% test expression_is_true(model, expression, column_name=none) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}

{#- Generic test: the column is lowercase hex of 64 characters (an HMAC-SHA256), never a raw ID. -#}
{% test matches_hex64(model, column_name) %}
select {{ column_name }} from {{ model }} where {{ column_name }} !~ '^[0-9a-f]{64}$'
{% endtest %}
