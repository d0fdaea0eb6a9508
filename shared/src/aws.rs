//! One `SdkConfig` -> every client, built once at start.
//!
//! The standard `AWS_ENDPOINT_URL` variable points all clients at a local endpoint (moto server);
//! S3 then needs path-style addressing because bucket subdomains of 127.0.0.1 do not resolve.

use aws_config::{BehaviorVersion, SdkConfig};

#[derive(Clone, Debug)]
pub struct AwsClients {
    pub sdk: SdkConfig,
    pub rds: aws_sdk_rds::Client,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sns: aws_sdk_sns::Client,
    pub s3: aws_sdk_s3::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
}

impl AwsClients {
    /// Reads region, credentials and endpoint from the environment, as every AWS SDK does.
    pub async fn from_env() -> Self {
        Self::new(aws_config::defaults(BehaviorVersion::latest()).load().await)
    }

    pub fn new(sdk: SdkConfig) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Self {
            rds: aws_sdk_rds::Client::new(&sdk),
            dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
            sns: aws_sdk_sns::Client::new(&sdk),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            sdk,
        }
    }
}

/// An SDK error with its whole cause chain, for reports and logs.
pub fn describe_sdk_error(err: &(dyn std::error::Error + 'static)) -> String {
    aws_sdk_rds::error::DisplayErrorContext(err).to_string()
}
