{{ config(materialized='table', indexes=[{'columns': ['person_id']}]) }}
{%- set plan = children_plan(announce=false) -%}
-- depends_on: {{ ref('int_batches__accepted') }}
-- depends_on: {{ ref('stg_reference__subdistricts') }}
-- depends_on: {{ ref('int_children__changed') }}
-- depends_on: {{ ref('int_enrolment__changed') }}
-- This night's snapshot rows of the persons the night looks at: the persons int_children__changed names
-- (the child-level classification reads their rows) and those whose roster rows changed (the enrolment
-- history reads those; on a night that reads the same snapshot as the night before they are not among
-- int_children__changed's). One read of the snapshot serves both. When the night classifies everyone
-- ({{ plan.mode }}), that is the whole snapshot.
select s.*
from {{ ref('int_enrolment__snapshot_rows') }} as s
{%- if plan.mode != 'all' %}
where s.person_id in (select person_id from {{ ref('int_children__changed') }}
                      union
                      select person_id from {{ ref('int_enrolment__changed') }} where rows_changed)
{%- endif %}
