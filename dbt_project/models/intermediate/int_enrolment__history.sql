-- Every roster record of every accepted enrolment snapshot up to as_of_date: the roll history that
-- snapshots alone do not keep.
with roster as (
    select * from {{ ref('stg_enrolment__roster') }}
    where person_id is not null
),

batches as (
    select * from {{ ref('int_batches__accepted') }}
    where source_name = 'enrolment'
),

final as (
    select
        b.extract_date as snapshot_date,
        r.*
    from roster as r
    inner join batches as b on b.batch_id = r.batch_id
)

select * from final
