{{ config(materialized='ephemeral') }}
{#- The batch is looked up when the model runs and written into the SQL as a constant, so that
    PostgreSQL prunes raw.enrolment_roster to that one partition when planning: the older snapshots
    are not opened at all (a join on batch_id would scan every partition). -#}
{%- set latest_batch = enrolment_snapshots()[0] -%}
-- The roster rows of the latest accepted enrolment snapshot at or before as_of_date (one batch:
-- the nightly build reads this night's snapshot, not the history).
select
    b.extract_date as snapshot_date,
    r.*
from {{ ref('stg_enrolment__roster') }} as r
inner join {{ ref('int_batches__accepted') }} as b on b.batch_id = r.batch_id
where r.batch_id = {{ latest_batch }}
  and r.person_id is not null
