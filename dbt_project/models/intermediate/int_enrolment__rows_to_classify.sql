{#- Parallel scan on an ordinary night (pre-hook; hooks are rendered when the model runs): the planner,
    with no statistics on the trimmed raw person_id, expects the join to keep billions of rows and
    prices their Gather out; it keeps 1 %. -#}
{%- set ordinary = "{% if children_plan(announce=false).mode != 'all' %}" -%}
{{ config(materialized='table', indexes=[{'columns': ['person_id']}],
          pre_hook=[ordinary ~ "set local parallel_tuple_cost = 0.001{% else %}select 1{% endif %}",
                    ordinary ~ "set local parallel_setup_cost = 0{% else %}select 1{% endif %}"]) }}
{%- set plan = children_plan(announce=false) -%}
{%- set latest_batch = enrolment_snapshots()[0] -%}
-- depends_on: {{ ref('int_batches__accepted') }}
-- depends_on: {{ ref('stg_reference__subdistricts') }}
-- depends_on: {{ ref('int_children__changed') }}
-- depends_on: {{ ref('int_enrolment__changed') }}
-- depends_on: {{ ref('stg_enrolment__roster') }}
-- This night's snapshot rows of the persons the night looks at: the persons int_children__changed names
-- (the child-level classification reads their rows) and those whose roster rows changed (the enrolment
-- history reads those; on a night that reads the same snapshot as the night before they are not among
-- int_children__changed's). One read of the snapshot serves both. When the night classifies everyone
-- ({{ plan.mode }}), that is the whole snapshot (int_enrolment__snapshot_rows).
{%- if plan.mode == 'all' %}
select * from {{ ref('int_enrolment__snapshot_rows') }}
{%- else %}
-- On an ordinary night the raw rows are picked by their raw person_id first and only those are
-- decoded, with the staging model's own select list (macros/enrolment_roster.sql): filtering the
-- staging view instead decodes every row of the snapshot (45 s against 7 s at national size). The
-- decoding is the select list over the join, so it runs on the rows the join keeps, in the workers
-- that scan the snapshot; as a materialized CTE the pick ran in one process (4.7 s a national night).
with

persons as (
    select person_id from {{ ref('int_children__changed') }}
    union
    select person_id from {{ ref('int_enrolment__changed') }} where rows_changed
),

picked as (
    select *
    from {{ source('raw', 'enrolment_roster') }}
    where _batch_id = {{ latest_batch }}
      and nullif(trim(person_id), '') in (select person_id from persons)
)

select
    (select extract_date from {{ ref('int_batches__accepted') }} where batch_id = {{ latest_batch }}) as snapshot_date,
    {{- enrolment_roster_columns() }}
from picked
{%- endif %}
