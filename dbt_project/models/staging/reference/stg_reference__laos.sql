with source as (
    select * from {{ source('reference', 'laos') }}
)

select
    lao_code,
    lao_name,
    lao_type,
    province_code,
    district_code
from source
