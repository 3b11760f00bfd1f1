{#-
  Incremental "current state" models of a delta source (registry, welfare) take each night's
  batches in one of two ways, decided when the model runs:

  - apply:   fold in only the accepted batches the model has not taken yet (delta batches delivered
             after every batch it has taken); nothing already taken is read again;
  - rebuild: derive the state from every accepted batch since the source's latest `full`.

  It rebuilds when the model is new, when a `full` re-statement arrives, when a batch it took no
  longer counts (re-delivered with a higher revision, blocked, or a past date re-run), when a
  delivery is older than one it took (a back-filled date), or when a row it left out because its
  date was after the night's as_of_date has come due (pending_date). The batches it has taken are
  kept beside the model in <model>__batches, written by `batch_state_record` in the same transaction.
-#}

{% macro batch_state_relation() -%}
    {{ return(api.Relation.create(database=this.database, schema=this.schema,
                                  identifier=this.identifier ~ '__batches', type='table')) }}
{%- endmacro %}

{% macro batch_state_plan(source_name, quiet=false) %}
    {% set plan = {'mode': 'rebuild', 'new_batches': [], 'reason': 'first build'} %}
    {% if execute and is_incremental() %}
        {% set side = adapter.get_relation(database=this.database, schema=this.schema,
                                           identifier=this.identifier ~ '__batches') %}
        {% if side is none %}
            {% do plan.update({'reason': 'no record of the batches taken'}) %}
        {% else %}
            {% set sql %}
                with accepted as (
                    select batch_id, extract_date, mode from {{ ref('int_batches__accepted') }}
                    where source_name = '{{ source_name }}'
                )
                select
                    (select count(*) from {{ side }} s
                     where s.batch_id not in (select batch_id from accepted)) as dropped,
                    (select count(*) from {{ side }} s
                     where s.pending_date <= {{ as_of_date() }}) as due,
                    (select count(*) from accepted a
                     where a.batch_id not in (select batch_id from {{ side }})
                       and (a.mode = 'full'
                            or a.extract_date <= (select max(extract_date) from {{ side }}))) as out_of_order,
                    (select coalesce(string_agg(a.batch_id::text, ',' order by a.batch_id), '') from accepted a
                     where a.batch_id not in (select batch_id from {{ side }})) as new_batches
            {% endset %}
            {% set row = run_query(sql).rows[0] %}
            {% if row[0] > 0 %}
                {% do plan.update({'reason': 'a batch taken no longer counts'}) %}
            {% elif row[1] > 0 %}
                {% do plan.update({'reason': 'a future-dated row has come due'}) %}
            {% elif row[2] > 0 %}
                {% do plan.update({'reason': 'a full re-statement or an older delivery'}) %}
            {% else %}
                {% do plan.update({'mode': 'apply', 'reason': 'new delta batches only',
                                   'new_batches': (row[3].split(',') if row[3] else [])}) %}
            {% endif %}
        {% endif %}
    {% endif %}
    {% if not quiet %}{% do log(this.identifier ~ ': ' ~ plan.mode ~ ' (' ~ plan.reason ~ '), '
              ~ (plan.new_batches | length) ~ ' new batch(es)', info=True) %}{% endif %}
    {{ return(plan) }}
{% endmacro %}

{#- The batch ids a model reads this night: the new ones (apply) or every accepted one (rebuild),
    as a literal list so that PostgreSQL prunes raw's batch partitions when planning. -#}
{% macro batch_state_filter(plan, source_name, column='batch_id') -%}
    {%- if plan.mode == 'apply' -%}
        {{ column }} in ({{ (plan.new_batches or ['-1']) | join(', ') }})
    {%- else -%}
        {{ column }} in (select batch_id from {{ ref('int_batches__accepted') }} where source_name = '{{ source_name }}')
    {%- endif -%}
{%- endmacro %}

{#- post_hook: remember the accepted batches taken (all of them after a rebuild) and, per batch, the
    earliest row date still after as_of_date. `pending_sql` selects (batch_id, pending_date) for the
    batches the night read, or is none when the state does not depend on as_of_date. -#}
{% macro batch_state_record(source_name, plan, pending_sql=none) %}
    {% set side = batch_state_relation() %}
    create table if not exists {{ side }} (
        batch_id bigint primary key, extract_date date not null, pending_date date);
    -- the night that took the batch: a state rebuilt after night P has no batch taken at or before P
    alter table {{ side }} add column if not exists taken_for date;
    {% if plan.mode == 'rebuild' %}
    delete from {{ side }};
    {% endif %}
    insert into {{ side }} (batch_id, extract_date, pending_date, taken_for)
    select a.batch_id, a.extract_date, {{ 'p.pending_date' if pending_sql else 'null::date' }}, {{ as_of_date() }}
    from {{ ref('int_batches__accepted') }} as a
    {% if pending_sql %}
    left join ({{ pending_sql }}) as p on p.batch_id = a.batch_id
    {% endif %}
    where a.source_name = '{{ source_name }}'
      and a.batch_id not in (select batch_id from {{ side }});
{% endmacro %}

{#- post_hook of int_registry__current_state: an event dated after as_of_date is left out tonight and
    must be counted on its date, so its batch records that date as pending. -#}
{% macro registry_state_record() %}
    {% set plan = batch_state_plan('registry', quiet=true) %}
    {% set pending_sql %}
        select batch_id, min(event_date) as pending_date
        from {{ ref('stg_registry__events') }}
        where {{ batch_state_filter(plan, 'registry') }}
          and person_id is not null
          and event_date > {{ as_of_date() }}
        group by batch_id
    {% endset %}
    {{ batch_state_record('registry', plan, pending_sql) }}
{% endmacro %}

{#- post_hook of a source state: an index per column (or expression) that int_children__changed
    selects the night's persons by, created if missing (a model's `indexes` config applies only when
    dbt creates the table). A night rewrites a few thousand rows of 7-13 M; by these indexes the
    selection reads those rows' pages (registry 4.3 s -> 0.2 s, welfare 2.4 s -> 0.01 s at national
    size, docs/benchmarks.md) where it scanned every row. `indexed` maps a name suffix to its column
    or expression. -#}
{% macro state_change_indexes(indexed) %}
    {%- for suffix, expression in indexed.items() %}
    create index if not exists {{ this.identifier }}_{{ suffix }} on {{ this }} (({{ expression }}));
    {%- endfor %}
{% endmacro %}

{#- A date's month and day as one number, month * 100 + day (1121 for 21 November): the birthday an
    index on the registry state looks persons up by (date_part of a date is immutable; to_char is
    not). -#}
{% macro birthday_number(column) -%}
    (date_part('month', {{ column }}) * 100 + date_part('day', {{ column }}))::int
{%- endmacro %}
