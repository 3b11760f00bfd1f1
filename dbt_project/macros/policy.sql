{#- Policy parameters come only from dbt vars (dbt_project.yml); these helpers keep SQL readable. -#}
{% macro as_of_date() -%}
    date '{{ var("as_of_date") }}'
{%- endmacro %}

{% macro policy(name) -%}
    {{ var(name) }}
{%- endmacro %}
