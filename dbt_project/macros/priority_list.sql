{#-
  The identified list is kept as versions (models/identified/priority_children_versions.sql) beside
  the nights built (`<versions>__nights`), as the child-level state is (macros/children_versions.sql);
  the view priority_children spans them into a list per night.
-#}

{#- The nights table beside the versions relation (default: the model being built). -#}
{% macro list_nights_relation(versions=none) -%}
    {% set versions = this if versions is none else versions %}
    {{ return(versions.incorporate(path={'identifier': versions.identifier ~ '__nights'})) }}
{%- endmacro %}

{#- The previous night P (children_plan) as a date literal when the plan is `changes` and the list was
    built for P: the night then lists only the changed persons. Else none: list everyone. -#}
{% macro list_previous_night() %}
    {% set plan = children_plan(announce=false) %}
    {% if execute and is_incremental() and plan.mode == 'changes' %}
        {% set side = list_nights_relation() %}
        {% set nights = adapter.get_relation(database=side.database, schema=side.schema,
                                             identifier=side.identifier) %}
        {% if nights is not none %}
            {% set found = run_query("select exists (select 1 from " ~ nights ~ " where as_of_date = date '"
                                     ~ plan.previous ~ "')").rows[0][0] %}
            {% if found %}{{ return("date '" ~ plan.previous ~ "'") }}{% endif %}
        {% endif %}
    {% endif %}
    {{ return(none) }}
{% endmacro %}

{#- post_hook: record that the list was built for D. -#}
{% macro list_nights_record() %}
    {% set side = list_nights_relation() %}
    create table if not exists {{ side }} (as_of_date date primary key, built_at timestamptz not null default now());
    revoke all on {{ side }} from public;
    delete from {{ side }} where as_of_date = {{ as_of_date() }};
    insert into {{ side }} (as_of_date) values ({{ as_of_date() }});
{% endmacro %}
