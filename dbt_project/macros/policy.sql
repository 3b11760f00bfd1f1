{#- Policy parameters come only from dbt vars (dbt_project.yml); these helpers keep SQL readable. -#}

{#- The night's date, as 'YYYY-MM-DD'. The pipeline passes it in the environment
    (DBT_ENV_CUSTOM_ENV_AS_OF_DATE, which dbt also records in its artifacts' metadata.env), read only when
    a node runs: a date given as a --var changes dbt's parse inputs, and every night would parse the
    project again from scratch (seconds a night; a backfill pays them per date). By hand,
    `--vars '{as_of_date: ...}'` still works. -#}
{% macro as_of_date_iso() -%}
    {%- if execute -%}
        {{- return(env_var('DBT_ENV_CUSTOM_ENV_AS_OF_DATE', '') or var('as_of_date')) -}}
    {%- endif -%}
    {{- return(var('as_of_date')) -}}
{%- endmacro %}

{% macro as_of_date() -%}
    date '{{ as_of_date_iso() }}'
{%- endmacro %}

{% macro policy(name) -%}
    {{ var(name) }}
{%- endmacro %}

{#- A data test's `where` is rendered when the project is parsed, before the night's date is known:
    it names the date `__as_of_date__`, put in here when the test runs (dbt's documented override). -#}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where') -%}
    {%- if where -%}
        {%- set where = where | replace('__as_of_date__', as_of_date()) -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{- return(filtered) -}}
    {%- endif -%}
    {{- return(relation) -}}
{%- endmacro %}
