{{ config(materialized='ephemeral') }}
-- The roster rows of the latest accepted enrolment snapshot at or before as_of_date (one batch:
-- the nightly build reads this night's snapshot, not the history).
with batches as (
    select * from {{ ref('int_batches__accepted') }}
    where source_name = 'enrolment'
),

latest as (
    select batch_id, extract_date
    from batches
    order by extract_date desc
    limit 1
)

select
    l.extract_date as snapshot_date,
    r.*
from {{ ref('stg_enrolment__roster') }} as r
inner join latest as l on l.batch_id = r.batch_id
where r.person_id is not null
